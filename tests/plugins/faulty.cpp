// A well-formed plugin whose types fail on purpose, to test the host's boundary:
//   faulty>Thrower    callback throwing in the hook named by "hook" (default on_epoch_end),
//                     on the data-parallel rank "rank" only when given (Session::rank());
//                     it appends each hook it sees to the file "trace" (to prove on_exception
//                     and on_train_end ran)
//   faulty>BadLayer   layer throwing in forward after "after" calls
//   faulty>BadInit    callback whose constructor throws
//   faulty>Refuses    callback whose constructor refuses its config with plugfit::InputError (the
//                     host must catch it as InputError: one typeinfo across the boundary)
#include <fstream>
#include <stdexcept>
#include <string>

#include <plugfit/sdk.hpp>

namespace {

using namespace plugfit;

class Thrower final : public Callback {
 public:
  explicit Thrower(Config& c)
      : hook_(c.get<std::string>("hook", "on_epoch_end")), trace_(c.get<std::string>("trace", "")), rank_(c.get<int>("rank", -1)) {}
  void on_train_begin(Logs&) override { step("on_train_begin"); }
  void on_epoch_end(int, Logs&) override { step("on_epoch_end"); }
  void on_train_batch_end(std::int64_t, Logs&) override { step("on_train_batch_end"); }
  void on_train_end(Logs&) override { step("on_train_end"); }
  void on_exception(const std::exception& e) override { note(std::string("on_exception: ") + e.what()); }

 private:
  void step(const std::string& hook) {
    if (hook != "on_train_batch_end") note(hook);
    if (hook != hook_ || (rank_ >= 0 && session().rank() != rank_)) return;
    throw std::runtime_error(rank_ >= 0 ? "deliberate failure on rank " + std::to_string(rank_) : "deliberate failure");
  }
  void note(const std::string& line) {
    if (!trace_.empty()) std::ofstream(trace_, std::ios::app) << line << "\n";
  }
  std::string hook_, trace_;
  int rank_;
};

class BadLayer final : public Layer {
 public:
  explicit BadLayer(Config& c) : after_(c.get<int>("after", 0)) { c.accept({"name"}); }
  Shape build(const Shape& in, BuildContext&) override { return in; }
  const Tensor& forward(const Tensor& x, bool) override {
    if (calls_++ >= after_) throw std::out_of_range("index 7 out of range");
    return x;
  }
  const Tensor& backward(const Tensor& dy) override { return dy; }
  Json get_config() const override { return {{"after", after_}}; }

 private:
  int after_;
  int calls_ = 0;
};

class BadInit final : public Callback {
 public:
  explicit BadInit(Config&) { throw std::runtime_error("cannot reach the metrics server"); }
};

class Refuses final : public Callback {
 public:
  explicit Refuses(Config& c) {
    throw InputError("callback faulty>Refuses: \"level\" must be at most 3, not " +
                     std::to_string(c.get<int>("level", 0)));
  }
};

void register_types(Registrar& r) {
  r.add_callback<Thrower>("Thrower");
  r.add_layer<BadLayer>("BadLayer");
  r.add_callback<BadInit>("BadInit");
  r.add_callback<Refuses>("Refuses");
}

}  // namespace

PLUGFIT_PLUGIN("faulty", "0.0.1", register_types)
