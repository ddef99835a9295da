#include <plugfit/tensor.hpp>

#include <functional>
#include <numeric>

namespace plugfit {

namespace {
// "(None, 28, 28)", "(32, 784)", and Python's "(5,)" for one dimension.
std::string join_dims(const Shape& shape, bool batch_placeholder) {
  std::string out = batch_placeholder ? "(None" : "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (batch_placeholder || i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1 && !batch_placeholder) out += ",";
  out += ")";
  return out;
}
}  // namespace

std::string shape_str(const Shape& shape_without_batch) { return join_dims(shape_without_batch, true); }
std::string full_shape_str(const Shape& shape) { return join_dims(shape, false); }

std::size_t shape_size(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
}

Shape shape_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end()); }

}  // namespace plugfit
