// What the callback tests share: a stdout/stderr capture and a compiled Dense(2) model with a
// session, wired as fit() wires callbacks.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/registry.hpp>

#include "builtins/builtins.hpp"
#include "checkpoint/record.hpp"
#include "training/callback_access.hpp"
#include "training/session.hpp"
#include "test_support.hpp"

namespace plugfit::test {

// Redirects stdout (fd 1) or stderr (fd 2) to a file until finish().
class Capture {
 public:
  explicit Capture(int fd) : fd_(fd) {
    std::fflush(nullptr);
    saved_ = dup(fd_);
    const int file = open((temp_.path / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(file, fd_);
    close(file);
  }
  ~Capture() { restore(); }
  std::string finish() {
    restore();
    return read_file(temp_.path / "out");
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    dup2(saved_, fd_);
    close(saved_);
    saved_ = -1;
  }
  test::TempDir temp_;
  int fd_, saved_ = -1;
};

// A compiled Dense(2) model (SGD at 0.1; metrics accuracy and mse) and a session, as fit() wires them.
struct Harness {
  test::TempDir temp;
  Registry registry;
  std::unique_ptr<Sequential> model;
  std::unique_ptr<FitSession> session;

  Harness() {
    register_builtins(registry);
    model = Sequential::from_config({{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 2}}}}}}}, registry);
    model->build({3}, 0);
    const Json compile = {{"optimizer", {{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}}}}},
                          {"loss", "mse"},
                          {"metrics", {"accuracy", "mse"}}};
    compile_from_config(*model, compile, registry);
    session = std::make_unique<FitSession>(*model, registry, nullptr, compile, 0);
  }

  // A callback by its registered name, wired and started as fit() would (after load_state, if any).
  std::unique_ptr<Callback> make(const std::string& name, const Json& config, const Json* state = nullptr,
                                 int initial_epoch = 0) {
    auto cb = registry.create_callback(name, config);
    wire(*cb, initial_epoch);
    if (state != nullptr) cb->load_state(*state);
    Logs logs;
    model->stop_training = false;
    cb->on_train_begin(logs);
    return cb;
  }
  void wire(Callback& cb, int initial_epoch = 0) {
    CallbackAccess::set_model(cb, model.get());
    CallbackAccess::set_session(cb, session.get());
    FitParams params;
    params.epochs = 100;
    params.initial_epoch = initial_epoch;
    CallbackAccess::set_params(cb, params);
    // As fit() does: a run that starts past epoch 0 continues an earlier one.
    session->set_resumed_at(initial_epoch > 0 ? std::optional<RunPosition>({initial_epoch, 0, 0}) : std::nullopt);
  }
  // Every parameter set to the epoch's number, so weights tell which epoch they are from.
  void mark_weights(int epoch) {
    for (float& p : model->parameters()) p = static_cast<float>(epoch);
  }
  bool weights_are(int epoch) {
    for (float p : model->parameters())
      if (p != static_cast<float>(epoch)) return false;
    return true;
  }
  double lr() { return model->optimizer()->learning_rate(); }

  // Runs epochs first, first+1, ... with the monitored values (as fit() would: the weights of the
  // epoch, then on_epoch_end) until stop_training; returns the epochs run.
  int epochs(Callback& cb, const std::vector<double>& values, const std::string& key = "val_loss", int first = 0,
             std::vector<Json>* logs_out = nullptr) {
    int run = 0;
    for (std::size_t i = 0; i < values.size() && !model->stop_training; ++i, ++run) {
      const int epoch = first + static_cast<int>(i);
      Logs logs;
      cb.on_epoch_begin(epoch, logs);
      mark_weights(epoch);
      logs["loss"] = 1.0;
      logs[key] = values[i];
      cb.on_epoch_end(epoch, logs);
      if (logs_out != nullptr) logs_out->push_back(logs.to_json());
    }
    return run;
  }
  void train_end(Callback& cb) {
    Logs logs;
    cb.on_train_end(logs);
  }
};


}  // namespace plugfit::test
