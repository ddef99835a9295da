// A starting point for a plugfit plugin: one callback. Add layers, losses, metrics and
// optimizers the same way (registrar.add_layer<T>("Name"), ...); each becomes "my_plugin>Name".
#include <cstdio>

#include <plugfit/sdk.hpp>

namespace {

class PrintEpoch final : public plugfit::Callback {
 public:
  // Options come from the run file's "config"; an option nobody reads is reported as a typo.
  explicit PrintEpoch(plugfit::Config& config) : every_(config.get<int>("every", 1)) {
    if (every_ < 1) throw plugfit::InputError("PrintEpoch: \"every\" must be at least 1");
  }
  void on_epoch_end(int epoch, plugfit::Logs& logs) override {
    if ((epoch + 1) % every_ == 0) std::printf("my_plugin: epoch %d ended, loss %.4f\n", epoch + 1, logs.at("loss"));
  }

 private:
  int every_;
};

void register_types(plugfit::Registrar& registrar) { registrar.add_callback<PrintEpoch>("PrintEpoch"); }

}  // namespace

PLUGFIT_PLUGIN("my_plugin", "0.1.0", register_types)
