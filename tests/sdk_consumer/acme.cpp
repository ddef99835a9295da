// A third party's plugin: a callback with state, a layer and a checkpoint backend ("toy:", see
// toy_backend.hpp), written against the SDK alone.
#include <fstream>

#include <plugfit/sdk.hpp>

#include "toy_backend.hpp"

namespace {

using namespace plugfit;

// Appends "epoch N loss X" to a file after every epoch; remembers how many it wrote.
class EpochLogger final : public Callback {
 public:
  explicit EpochLogger(Config& config) : path_(config.require<std::string>("path")) {}
  void on_epoch_end(int epoch, Logs& logs) override {
    std::ofstream(path_, std::ios::app) << "epoch " << epoch + 1 << " loss " << logs.at("loss") << "\n";
    ++written_;
  }
  Json state() const override { return {{"written", written_}}; }
  void load_state(const Json& state) override { written_ = state.value("written", 0); }

 private:
  std::string path_;
  int written_ = 0;
};

// y = factor * x, with a fixed factor from the config.
class Scale final : public Layer {
 public:
  explicit Scale(Config& config) : factor_(config.get<float>("factor", 1.f)) {}
  Shape build(const Shape& input_shape, BuildContext&) override { return input_shape; }
  const Tensor& forward(const Tensor& x, bool) override { return y_ = x * factor_; }
  const Tensor& backward(const Tensor& dy) override { return dx_ = dy * factor_; }
  Json get_config() const override { return {{"factor", factor_}}; }

 private:
  float factor_;
  Tensor y_, dx_;
};

void register_types(Registrar& registrar) {
  registrar.add_callback<EpochLogger>("EpochLogger");
  registrar.add_layer<Scale>("Scale");
  acme::register_toy_backend(registrar);
}

}  // namespace

PLUGFIT_PLUGIN("acme", "1.2.0", register_types)
