// Shared by the unit tests: a registry of the built-in types and a temporary folder.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <plugfit/registry.hpp>

#include "data/dataset.hpp"
#include "same_memory.hpp"
#include "builtins/builtins.hpp"
#include "model/sequential.hpp"
#include "training/callback_access.hpp"
#include "training/session.hpp"

namespace plugfit::test {

inline Registry& make_builtins(Registry& registry) {
  register_builtins(registry);
  return registry;
}

inline const Registry& builtins() {
  static Registry storage;
  static const Registry& registry = make_builtins(storage);
  return registry;
}

// Smooth, varied values of a shape (no two neighbours equal): inputs for the layer tests.
inline Tensor ramp(const Shape& full_shape) {
  Tensor x = Tensor::from_shape(full_shape);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(std::sin(double(i) * 0.7) * 3.0 + double(i % 5));
  return x;
}

// The message of the InputError f throws, or "(no InputError)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// A fresh folder under /tmp, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = "/tmp/plugfit-test-XXXXXX";
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Three classes given by the sign pattern of two of four normal features: learnable by a small MLP.
inline Dataset blobs(std::size_t n, std::uint64_t seed) {
  Dataset d;
  d.spec = "blobs";
  d.x = Tensor::from_shape({n, 4});
  d.y = Tensor::from_shape({n});
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 4; ++j) d.x(i, j) = static_cast<float>(rng.normal());
    d.y(i) = d.x(i, 0) > 0.f ? 0.f : (d.x(i, 1) > 0.f ? 1.f : 2.f);
  }
  return d;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}


// The session a resumed run's callbacks ask where it resumed (Session::resumed_at()).
inline FitSession& resumed_session(int initial_epoch) {
  static std::unique_ptr<Sequential> model = [] {
    auto m = Sequential::from_config({{"layers", {{{"class_name", "Dense"}, {"config", {{"units", 1}}}}}}},
                                     builtins());
    m->build({1}, 0);
    return m;
  }();
  static FitSession session(*model, builtins(), nullptr, Json::object(), 0);
  session.set_resumed_at(RunPosition{initial_epoch, 0, 0});
  return session;
}

// A callback by its registered name, wired as fit() would (a session only for a resumed run:
// otherwise these use neither model nor session).
inline std::unique_ptr<Callback> make_callback(const std::string& name, const Json& config, const Json* state = nullptr,
                                        int initial_epoch = 0, int epochs = 10) {
  auto cb = builtins().create_callback(name, config);
  FitParams params;
  params.epochs = epochs;
  params.initial_epoch = initial_epoch;
  CallbackAccess::set_params(*cb, params);
  if (initial_epoch > 0) CallbackAccess::set_session(*cb, &resumed_session(initial_epoch));
  if (state != nullptr) cb->load_state(*state);
  Logs logs;
  cb->on_train_begin(logs);
  return cb;
}

// Logs from (key, value) pairs, in order.
inline Logs make_logs(const std::vector<std::pair<std::string, double>>& items) {
  Logs logs;
  for (const auto& [k, v] : items) logs[k] = v;
  return logs;
}

// Feeds each logs to on_epoch_end, epochs first, first+1, ...
inline void run_epochs(Callback& cb, const std::vector<Logs>& epochs, int first = 0) {
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    Logs logs = epochs[i];
    cb.on_epoch_end(first + static_cast<int>(i), logs);
  }
}

}  // namespace plugfit::test
