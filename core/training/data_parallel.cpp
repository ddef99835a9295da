#include "data_parallel.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "../checkpoint/record.hpp"
#include "../plugin_loading/loader.hpp"

namespace plugfit {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// What every rank must agree on before training together, each part hashed (FNV-1a).
std::uint64_t fnv1a(const std::string& text, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}
std::uint64_t data_hash(const Dataset& data) {
  const std::uint32_t x = crc32_of(data.x.data(), data.x.size() * sizeof(float));
  const std::uint32_t y = crc32_of(data.y.data(), data.y.size() * sizeof(float));
  return fnv1a(full_shape_str(shape_of(data.x)) + full_shape_str(shape_of(data.y)), (std::uint64_t{x} << 32) | y);
}
}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> run_parts(Sequential& model, const Dataset& data,
                                                             const FitOptions& options,
                                                             const std::vector<Callback*>& callbacks,
                                                             const FitSession& session) {
  std::string fit = std::to_string(options.epochs) + "/" + std::to_string(options.batch_size) + "/" +
                    std::to_string(options.gradient_block_rows) + "/" +
                    std::to_string(options.shuffle) + "/" + std::to_string(options.validation_split) + "/" +
                    session.extra_info().dump();
  std::string callback_types;
  for (const Callback* callback : callbacks)  // the checkpoint manager runs on rank 0 alone
    if (callback->type_name() != "CheckpointManager") callback_types += callback->type_name() + ";";
  // The plugins behind the types training uses: rank 0 alone may load a checkpoint backend's.
  std::string plugins;
  if (session.loader() != nullptr)
    for (const auto& [name, info] : session.loader()->loaded()) {
      const bool backend_only = std::all_of(info.types.begin(), info.types.end(), [](const std::string& type) {
        return type.rfind("checkpoint backend ", 0) == 0;
      });
      if (!backend_only) plugins += name + " " + info.version + ";";
    }
  std::vector<std::pair<std::string, std::uint64_t>> parts = {
      {"its plugins (names and versions)", fnv1a(plugins)},
      {"its model config", fnv1a(model.get_config().dump())},
      {"its compile config (optimizer, loss, metrics)", fnv1a(session.compile_config().dump())},
      {"its fit options (epochs, batch_size, gradient_block_rows, shuffle, validation, data specs)", fnv1a(fit)},
      {"its callbacks", fnv1a(callback_types)},
      {"its training data (" + data.spec + ")", data_hash(data)},
  };
  if (options.validation_data != nullptr)
    parts.push_back({"its validation data (" + options.validation_data->spec + ")",
                     data_hash(*options.validation_data)});
  return parts;
}


DataParallel::DataParallel(Communicator* communicator, double collective_timeout_seconds)
    : communicator_(communicator), timeout_seconds_(collective_timeout_seconds) {
  if (communicator_ != nullptr) {
    rank_ = communicator_->rank();
    size_ = communicator_->size();
  }
  if (distributed() && timeout_seconds_ > 0.0) watchdog_ = std::thread([this] { watch(); });
}

DataParallel::~DataParallel() {
  stop_watchdog_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

DataParallel::Collective::Collective(DataParallel& o, const char* what) : owner(o) {
  owner.collective_what_ = what;
  owner.collective_started_ns_ = now_ns();
}
DataParallel::Collective::~Collective() { owner.collective_started_ns_ = 0; }

void DataParallel::watch() {
  const auto limit_ns = static_cast<std::int64_t>(timeout_seconds_ * 1e9);
  while (!stop_watchdog_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::int64_t started = collective_started_ns_;
    if (started == 0 || now_ns() - started <= limit_ns) continue;
    // The training thread is inside the transport: end this process, which makes mpirun end the
    // job; MPI may not be called from this thread.
    std::fprintf(stderr, "%splugfit: error: the %s has waited more than %g s for the other ranks (the collective "
                 "timeout); ending the job\n", prefix().c_str(), collective_what_.load(), timeout_seconds_);
    std::fflush(stderr);
    std::_Exit(1);
  }
}

std::string DataParallel::prefix() const {
  return distributed() ? "[rank " + std::to_string(rank_) + "/" + std::to_string(size_) + "] " : std::string();
}

std::pair<std::size_t, std::size_t> DataParallel::slice(std::size_t rows) const {
  const auto n = static_cast<std::size_t>(size_), r = static_cast<std::size_t>(rank_);
  const std::size_t unit = block_rows_ > 0 ? block_rows_ : 1;
  const std::size_t units = (rows + unit - 1) / unit;
  const std::size_t base = units / n, extra = units % n;
  const std::size_t first = std::min(rows, (r * base + std::min(r, extra)) * unit);
  const std::size_t last = std::min(rows, first + (base + (r < extra ? 1 : 0)) * unit);
  return {first, last - first};
}

void DataParallel::set_gradient_blocks(std::size_t rows) {
  block_rows_ = rows;
  block_sums_.clear();
}

void DataParallel::add_block_gradient(std::span<const float> grads, std::size_t rows, std::size_t global) {
  if (block_sums_.size() != grads.size()) block_sums_.assign(grads.size(), 0.0);  // the first step's
  const float share = static_cast<float>(double(rows) / double(global));
  for (std::size_t i = 0; i < grads.size(); ++i) block_sums_[i] += double(grads[i] * share);
}

void DataParallel::combine_block_gradients(std::span<float> grads) {
  if (block_sums_.size() != grads.size()) block_sums_.assign(grads.size(), 0.0);  // a rank without rows
  if (distributed()) {
    const Collective in_progress(*this, "all-reduce of the gradients");
    communicator_->allreduce_sum(std::span<double>(block_sums_));
  }
  for (std::size_t i = 0; i < grads.size(); ++i) grads[i] = static_cast<float>(block_sums_[i]);
  std::fill(block_sums_.begin(), block_sums_.end(), 0.0);
}

void DataParallel::combine_gradients(std::span<float> grads, std::size_t local, std::size_t global) {
  if (!distributed()) return;
  if (local == 0) {
    std::fill(grads.begin(), grads.end(), 0.f);
  } else if (local != global) {
    const float share = static_cast<float>(double(local) / double(global));
    for (float& g : grads) g *= share;
  }
  const Collective in_progress(*this, "all-reduce of the gradients");
  communicator_->allreduce_sum(grads);
}

void DataParallel::sum(std::span<double> values) {
  if (!distributed()) return;
  const Collective in_progress(*this, "all-reduce of the logs");
  communicator_->allreduce_sum(values);
}

void DataParallel::share_non_trainable(Sequential& model) {
  if (!distributed()) return;
  const std::span<float> all = model.parameters();
  const std::span<float> state = all.subspan(model.num_trainable());
  if (state.empty()) return;
  const Collective in_progress(*this, "broadcast of the non-trainable weights");
  communicator_->broadcast(std::as_writable_bytes(state), 0);
}

void DataParallel::check_same_run(const std::vector<std::pair<std::string, std::uint64_t>>& parts) {
  if (!distributed()) return;
  std::vector<std::uint64_t> root(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) root[i] = parts[i].second;
  {
    const Collective in_progress(*this, "comparison of the runs");
    communicator_->broadcast(std::as_writable_bytes(std::span<std::uint64_t>(root)), 0);
  }
  // differs[r * parts + i]: rank r's part i is not rank 0's.
  std::vector<double> differs(static_cast<std::size_t>(size_) * parts.size(), 0.0);
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].second != root[i]) differs[static_cast<std::size_t>(rank_) * parts.size() + i] = 1.0;
  sum(differs);
  for (int r = 1; r < size_; ++r)
    for (std::size_t i = 0; i < parts.size(); ++i)
      if (differs[static_cast<std::size_t>(r) * parts.size() + i] != 0.0)
        throw ThrownOnEveryRank("rank " + std::to_string(r) + " of " + std::to_string(size_) + " differs from rank 0 in " +
                         parts[i].first + ": every rank must run the same run file, plugins and data");
}

void DataParallel::share_run_from_rank0(FitSession& session) {
  if (!distributed()) return;
  std::uint64_t size = 0;
  if (rank_ == 0) {
    bytes_ = record_to_bytes(session.capture(false));
    size = bytes_.size();
  }
  const Collective in_progress(*this, "broadcast of rank 0's run");
  communicator_->broadcast(std::as_writable_bytes(std::span<std::uint64_t>(&size, 1)), 0);
  bytes_.resize(size);
  communicator_->broadcast(bytes_, 0);
  if (rank_ != 0) session.restore(record_from_bytes(bytes_, "the run broadcast from rank 0"), {true, true, true, true});
  bytes_.clear();
  bytes_.shrink_to_fit();
}

LogTotals::LogTotals(Sequential& model, DataParallel& parallel) : model_(model), parallel_(parallel) {
  std::size_t n = 2 + static_cast<std::size_t>(parallel.size());
  for (const auto& metric : model.metrics()) n += metric->totals().size();
  combined_.assign(n, 0.0);
}

void LogTotals::reset() {
  loss_sum_ = samples_ = 0.0;
  std::fill(combined_.begin(), combined_.end(), 0.0);
  for (auto& metric : model_.metrics()) metric->reset();
}

void LogTotals::add_loss(double batch_mean, std::size_t rows) {
  loss_sum_ += batch_mean * double(rows);
  samples_ += double(rows);
}

int LogTotals::combine(int pending_signal) {
  const auto ranks = static_cast<std::size_t>(parallel_.size());
  std::fill(combined_.begin(), combined_.end(), 0.0);
  combined_[0] = loss_sum_;
  combined_[1] = samples_;
  combined_[2 + static_cast<std::size_t>(parallel_.rank())] = pending_signal;
  std::size_t at = 2 + ranks;
  for (const auto& metric : model_.metrics()) {
    const std::span<const double> totals = metric->totals();
    std::copy(totals.begin(), totals.end(), combined_.begin() + static_cast<std::ptrdiff_t>(at));
    at += totals.size();
  }
  parallel_.sum(combined_);
  for (std::size_t r = 0; r < ranks; ++r)
    if (combined_[2 + r] != 0.0) return static_cast<int>(combined_[2 + r]);
  return 0;
}

std::size_t LogTotals::samples() const { return static_cast<std::size_t>(combined_[1]); }

void LogTotals::write(Logs& logs, const std::string& prefix) const {
  logs[prefix + "loss"] = combined_[1] == 0.0 ? 0.0 : combined_[0] / combined_[1];
  std::size_t at = 2 + static_cast<std::size_t>(parallel_.size());
  for (const auto& metric : model_.metrics()) {
    const std::size_t n = metric->totals().size();
    logs[prefix + metric->name()] = metric->result_of(std::span<const double>(combined_).subspan(at, n));
    at += n;
  }
}

}  // namespace plugfit
