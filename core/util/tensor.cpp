#include <plugfit/tensor.hpp>

#include <cstdlib>
#include <functional>
#include <numeric>

#include <plugfit/error.hpp>

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

std::size_t max_tensor_elements() {
  constexpr std::size_t kDefault = std::size_t{1} << 30;
  static const std::size_t limit = [] {
    const char* text = std::getenv("PLUGFIT_MAX_TENSOR_ELEMENTS");
    if (text == nullptr || *text == '\0') return kDefault;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (*end != '\0' || value == 0 || text[0] == '-')
      throw InputError("PLUGFIT_MAX_TENSOR_ELEMENTS must be a positive integer, got \"" + std::string(text) + "\"");
    return static_cast<std::size_t>(value);
  }();
  return limit;
}

std::size_t checked_shape_size(const Shape& shape, const std::string& what) {
  std::size_t nonzero = 1;
  bool overflow = false;
  for (std::size_t d : shape)
    if (d != 0) overflow = overflow || __builtin_mul_overflow(nonzero, d, &nonzero);
  if (overflow || nonzero > max_tensor_elements())
    throw InputError(what + " has the shape " + full_shape_str(shape) + ", more than the limit of " +
                     std::to_string(max_tensor_elements()) +
                     " elements per tensor (PLUGFIT_MAX_TENSOR_ELEMENTS raises it)");
  return shape_size(shape);
}

Shape shape_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end()); }

}  // namespace plugfit
