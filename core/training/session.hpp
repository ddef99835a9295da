// The Session of a fit(): what callbacks use to capture and restore the run. Not thread-safe,
// as the SDK's Session: the training thread only.
#pragma once

#include <plugfit/session.hpp>

#include <memory>

#include "../checkpoint/record.hpp"

namespace plugfit {

class PluginLoader;
class DataParallel;
class Communicator;

class FitSession final : public Session {
 public:
  // compile_config is stored in full records so that a fresh process can recompile the model.
  // communicator: the run's transport for data-parallel training (nullptr: one process);
  // collective_timeout_seconds: see DataParallel.
  FitSession(Sequential& model, const Registry& registry, PluginLoader* loader, Json compile_config,
             std::uint64_t seed, Communicator* communicator = nullptr, double collective_timeout_seconds = 0.0);
  ~FitSession() override;

  CheckpointRecord capture(bool weights_only) const override;
  void restore(const CheckpointRecord& record, const RestoreParts& parts) override;
  std::unique_ptr<CheckpointBackend> open_backend(const std::string& uri) override;
  int epoch() const override { return position_.epoch; }
  std::int64_t global_step() const override { return position_.global_step; }
  std::optional<RunPosition> resumed_at() const override { return resumed_at_; }
  std::optional<int> metric_direction(const std::string& metric_name) const override;
  int rank() const override;
  int world_size() const override;

  // Host side, kept current by fit().
  void set_callbacks(std::vector<Callback*> callbacks) { callbacks_ = std::move(callbacks); }
  void set_position(const TrainingPosition& position) { position_ = position; }
  void set_metrics(const Logs& logs) { metrics_ = logs; }
  // fit() says where it starts: nullopt for a fresh run (a restore with training state sets it too).
  void set_resumed_at(std::optional<RunPosition> position) { resumed_at_ = position; }
  // Merged into every captured record's info (the run's data specs, say).
  void set_extra_info(Json extra) { extra_info_ = std::move(extra); }
  const TrainingPosition& position() const { return position_; }
  Sequential& model() { return model_; }
  const Json& extra_info() const { return extra_info_; }
  const Json& compile_config() const { return compile_config_; }
  const PluginLoader* loader() const { return loader_; }
  DataParallel& parallel() { return *parallel_; }

 private:
  Sequential& model_;
  const Registry& registry_;
  PluginLoader* loader_;
  Json compile_config_;
  TrainingPosition position_;
  std::optional<RunPosition> resumed_at_;
  std::vector<Callback*> callbacks_;
  Logs metrics_;
  Json extra_info_ = Json::object();
  std::unique_ptr<DataParallel> parallel_;
};

}  // namespace plugfit
