// Callbacks that do nothing, for measuring the host's dispatch cost across the plugin boundary:
//   bench_callbacks>Idle       overrides every hook with an empty body
//   bench_callbacks>EpochOnly  overrides only the epoch hooks (batch hooks must then cost nothing)
#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

class Idle final : public Callback {
 public:
  explicit Idle(Config&) {}
  void on_train_begin(Logs&) override {}
  void on_train_end(Logs&) override {}
  void on_epoch_begin(int, Logs&) override {}
  void on_epoch_end(int, Logs&) override {}
  void on_train_batch_begin(std::int64_t, Logs&) override {}
  void on_train_batch_end(std::int64_t, Logs&) override {}
  void on_test_begin(Logs&) override {}
  void on_test_end(Logs&) override {}
  void on_test_batch_begin(std::int64_t, Logs&) override {}
  void on_test_batch_end(std::int64_t, Logs&) override {}
  void on_predict_begin(Logs&) override {}
  void on_predict_end(Logs&) override {}
  void on_predict_batch_begin(std::int64_t, Logs&) override {}
  void on_predict_batch_end(std::int64_t, Logs&) override {}
};

class EpochOnly final : public Callback {
 public:
  explicit EpochOnly(Config&) {}
  void on_epoch_begin(int, Logs&) override {}
  void on_epoch_end(int, Logs&) override {}
};

void register_types(Registrar& registrar) {
  registrar.add_callback<Idle>("Idle");
  registrar.add_callback<EpochOnly>("EpochOnly");
}

}  // namespace

PLUGFIT_PLUGIN("bench_callbacks", "1.0.0", register_types)
