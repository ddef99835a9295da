#include "session.hpp"

#include "../checkpoint/store.hpp"
#include "data_parallel.hpp"

namespace plugfit {

FitSession::FitSession(Sequential& model, const Registry& registry, PluginLoader* loader, Json compile_config,
                       std::uint64_t seed, Communicator* communicator, double collective_timeout_seconds)
    : model_(model),
      registry_(registry),
      loader_(loader),
      compile_config_(std::move(compile_config)),
      parallel_(std::make_unique<DataParallel>(communicator, collective_timeout_seconds)) {
  position_.seed = seed;
}

FitSession::~FitSession() = default;

int FitSession::rank() const { return parallel_->rank(); }
int FitSession::world_size() const { return parallel_->size(); }

CheckpointRecord FitSession::capture(bool weights_only) const {
  CheckpointRecord record =
      capture_record(model_, registry_, compile_config_, position_, callbacks_, metrics_, weights_only);
  record.info.update(extra_info_);
  return record;
}

void FitSession::restore(const CheckpointRecord& record, const RestoreParts& parts) {
  if (parts.weights) restore_weights(model_, record);
  if (parts.optimizer) restore_optimizer(model_, record);
  if (parts.training_state) {
    position_ = restore_position(model_, record);
    resumed_at_ = RunPosition{position_.epoch, position_.batch, position_.global_step};
  }
  if (parts.callbacks) restore_callbacks(callbacks_, record);
}

std::optional<int> FitSession::metric_direction(const std::string& metric_name) const {
  for (const auto& metric : model_.metrics())
    if (metric->name() == metric_name) return metric->direction() > 0 ? 1 : -1;
  return std::nullopt;
}

std::unique_ptr<CheckpointBackend> FitSession::open_backend(const std::string& uri) {
  return plugfit::open_backend(parse_checkpoint_uri(uri), registry_, loader_);
}

}  // namespace plugfit
