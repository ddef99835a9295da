// LambdaCallback, for C++ users (not registered by name: a JSON config cannot hold functions):
// a callback made of std::functions, one per hook, as Keras's LambdaCallback.
//
//   LambdaCallback cb({.on_epoch_end = [](int epoch, Logs& logs) { ... }});
//
// A hook whose function is empty does nothing; an empty batch hook stays free (the SDK's default
// marks it unused, and the host stops calling it after its first call), so set the functions
// before fit() starts. Stateless.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>

#include <plugfit/callback.hpp>

namespace plugfit {

// The hooks of a LambdaCallback (declared outside it so that its default member initializers
// are complete where LambdaCallback's constructor takes it).
struct LambdaCallbackFunctions {
  // Default member initializers keep designated initializers free of -Wmissing-field-initializers.
  std::function<void(Logs&)> on_train_begin{}, on_train_end{};
  std::function<void(int epoch, Logs&)> on_epoch_begin{}, on_epoch_end{};
  std::function<void(std::int64_t batch, Logs&)> on_train_batch_begin{}, on_train_batch_end{};
  std::function<void(Logs&)> on_test_begin{}, on_test_end{};
  std::function<void(std::int64_t batch, Logs&)> on_test_batch_begin{}, on_test_batch_end{};
  std::function<void(Logs&)> on_predict_begin{}, on_predict_end{};
  std::function<void(std::int64_t batch, Logs&)> on_predict_batch_begin{}, on_predict_batch_end{};
  std::function<void(const std::exception&)> on_exception{};
  std::function<void(std::int64_t batch)> on_after_backward{}, on_before_optimizer_step{};
};

class LambdaCallback final : public Callback {
 public:
  using Functions = LambdaCallbackFunctions;

  explicit LambdaCallback(Functions functions = {});

  void on_train_begin(Logs& logs) override;
  void on_train_end(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_after_backward(std::int64_t batch) override;
  void on_before_optimizer_step(std::int64_t batch) override;
  void on_test_begin(Logs& logs) override;
  void on_test_end(Logs& logs) override;
  void on_test_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_test_batch_end(std::int64_t batch, Logs& logs) override;
  void on_predict_begin(Logs& logs) override;
  void on_predict_end(Logs& logs) override;
  void on_predict_batch_begin(std::int64_t batch, Logs& logs) override;
  void on_predict_batch_end(std::int64_t batch, Logs& logs) override;
  void on_exception(const std::exception& error) override;

  Functions functions;
};

}  // namespace plugfit
