// Tensors: xtensor containers of float, batch first, row-major.
//
// Tensor      an owning, dynamically ranked array (activations, gradients, data batches).
// TensorView  a non-owning view of a slice of the model's flat parameter or gradient buffer;
//             weights are TensorViews, so an optimizer, a checkpoint or a gradient check sees
//             all parameters as one contiguous vector.
// Shape       a shape without the batch dimension unless stated otherwise.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "export.hpp"

namespace plugfit {

using Shape = std::vector<std::size_t>;
using Tensor = xt::xarray<float, xt::layout_type::row_major>;
using TensorView = xt::xarray_adaptor<xt::xbuffer_adaptor<float*, xt::no_ownership>, xt::layout_type::row_major, Shape>;

// "(None, 28, 28)" for a shape without batch, as Keras prints it.
PLUGFIT_API std::string shape_str(const Shape& shape_without_batch);
// "(32, 784)" for a full shape.
PLUGFIT_API std::string full_shape_str(const Shape& shape);
// Number of elements of a shape (1 for a scalar shape).
PLUGFIT_API std::size_t shape_size(const Shape& shape);
// The shape of a tensor as a Shape.
PLUGFIT_API Shape shape_of(const Tensor& t);

// The most elements one tensor read from a file or declared by a config may have: 2^30 (4 GiB
// of float32), or the value of PLUGFIT_MAX_TENSOR_ELEMENTS when that is set (a positive integer).
// A hostile header cannot make plugfit allocate more than this.
PLUGFIT_API std::size_t max_tensor_elements();
// The number of elements of shape, checked before anything is allocated.
// ensures: throws InputError "<what> has the shape S, more than the limit of N elements (...)" when
//   the product of its non-zero dimensions exceeds max_tensor_elements() (a zero dimension does not
//   excuse the others: strides are computed from them).
PLUGFIT_API std::size_t checked_shape_size(const Shape& shape, const std::string& what);

// A view of n floats at data with the given shape (the caller keeps the memory alive).
inline TensorView view_of(float* data, const Shape& shape) {
  return TensorView(xt::xbuffer_adaptor<float*, xt::no_ownership>(data, shape_size(shape)), shape);
}

}  // namespace plugfit
