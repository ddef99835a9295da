#include "learning_rate_scheduler.hpp"

#include <plugfit/registry.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <numbers>

#include "../callback_access.hpp"
#include "monitor.hpp"

namespace plugfit {

namespace {

// A learning rate option: required, a non-negative number.
double rate_option(Config& config, const std::string& key) {
  const double v = config.require<double>(key);
  if (!(v >= 0.0) || !std::isfinite(v))
    throw InputError(config.type_name() + ": \"" + key + "\" must be a non-negative number, got " + python_float(v));
  return v;
}

double positive_option(Config& config, const std::string& key) {
  const double v = config.require<double>(key);
  if (!(v > 0.0) || !std::isfinite(v))
    throw InputError(config.type_name() + ": \"" + key + "\" must be a positive number, got " + python_float(v));
  return v;
}

Schedule step_schedule(Config& config) {
  const double initial = rate_option(config, "initial_learning_rate");
  const double drop = positive_option(config, "drop");
  const int every = config.require<int>("every");
  if (every < 1) throw InputError(config.type_name() + ": \"every\" must be a positive number of epochs");
  return [=](int epoch, double) { return initial * std::pow(drop, std::floor(double(epoch) / double(every))); };
}

Schedule exponential_schedule(Config& config) {
  const double initial = rate_option(config, "initial_learning_rate");
  const double decay_rate = positive_option(config, "decay_rate");
  const double decay_steps = positive_option(config, "decay_steps");
  const bool staircase = config.get<bool>("staircase", false);
  return [=](int epoch, double) {
    double p = double(epoch) / decay_steps;
    if (staircase) p = std::floor(p);
    return initial * std::pow(decay_rate, p);
  };
}

Schedule cosine_schedule(Config& config) {
  const double initial = rate_option(config, "initial_learning_rate");
  const double decay_steps = positive_option(config, "decay_steps");
  const double alpha = config.get<double>("alpha", 0.0);
  if (!(alpha >= 0.0 && alpha <= 1.0))
    throw InputError(config.type_name() + ": \"alpha\" must be in [0, 1], got " + python_float(alpha));
  return [=](int epoch, double) {
    const double done = std::min(double(epoch), decay_steps) / decay_steps;
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * done));
    return initial * ((1.0 - alpha) * cosine + alpha);
  };
}

Schedule piecewise_constant_schedule(Config& config) {
  const Json boundaries = config.require<Json>("boundaries");
  const Json values = config.require<Json>("values");
  const std::string& who = config.type_name();
  if (!boundaries.is_array() || !values.is_array())
    throw InputError(who + ": \"boundaries\" and \"values\" must be arrays");
  if (values.size() != boundaries.size() + 1)
    throw InputError(who + ": \"values\" must have one more entry than \"boundaries\" (" +
                     std::to_string(boundaries.size() + 1) + "), got " + std::to_string(values.size()));
  std::vector<double> b, v;
  for (const Json& x : boundaries) {
    if (!x.is_number()) throw InputError(who + ": \"boundaries\" must hold epoch numbers, got " + json_excerpt(x));
    if (!b.empty() && !(x.get<double>() > b.back()))
      throw InputError(who + ": \"boundaries\" must be increasing, got " + json_excerpt(boundaries));
    b.push_back(x.get<double>());
  }
  for (const Json& x : values) {
    if (!x.is_number() || !(x.get<double>() >= 0.0) || !std::isfinite(x.get<double>()))
      throw InputError(who + ": \"values\" must hold non-negative learning rates, got " + json_excerpt(x));
    v.push_back(x.get<double>());
  }
  return [b, v](int epoch, double) {
    // Keras's PiecewiseConstantDecay: values[i] while epoch <= boundaries[i].
    std::size_t i = 0;
    while (i < b.size() && double(epoch) > b[i]) ++i;
    return v[i];
  };
}

Schedule warmup_schedule(Config& config) {
  const double initial = rate_option(config, "initial_learning_rate");
  const int warmup = config.require<int>("warmup_epochs");
  if (warmup < 0) throw InputError(config.type_name() + ": \"warmup_epochs\" must be non-negative");
  const Json& after_spec = config.raw("after");
  Schedule after = after_spec.is_null() ? Schedule() : make_schedule(after_spec);
  return [=](int epoch, double lr) {
    if (epoch < warmup) return initial * double(epoch + 1) / double(warmup);
    return after ? after(epoch - warmup, lr) : initial;
  };
}

struct ScheduleTable {
  std::mutex mutex;
  std::map<std::string, ScheduleFactory> factories;
  ScheduleTable() {
    factories["step"] = step_schedule;
    factories["exponential"] = exponential_schedule;
    factories["cosine"] = cosine_schedule;
    factories["piecewise_constant"] = piecewise_constant_schedule;
    factories["warmup"] = warmup_schedule;
  }
};

ScheduleTable& table() {
  static ScheduleTable instance;
  return instance;
}

std::string joined_names() {
  std::string names;
  for (const auto& name : schedule_names()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

void register_schedule(const std::string& name, ScheduleFactory factory) {
  if (name.empty() || !factory) throw InputError("register_schedule: needs a name and a factory");
  ScheduleTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (!t.factories.emplace(name, std::move(factory)).second)
    throw InputError("the learning rate schedule \"" + name + "\" is already registered");
}

std::vector<std::string> schedule_names() {
  ScheduleTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : t.factories) names.push_back(name);
  return names;
}

Schedule make_schedule(const Json& spec, const Registry* registry) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string())
    throw InputError("LearningRateScheduler: \"schedule\" must be {\"class_name\": NAME, \"config\": {...}} with NAME "
                     "one of " + joined_names() + ", got " + json_excerpt(spec));
  for (auto it = spec.begin(); it != spec.end(); ++it)
    if (it.key() != "class_name" && it.key() != "config")
      throw InputError("LearningRateScheduler: the schedule has no field \"" + it.key() +
                       "\" (it takes \"class_name\" and \"config\")");
  const std::string name = spec["class_name"].get<std::string>();
  ScheduleFactory factory;
  {
    ScheduleTable& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    auto it = t.factories.find(name);
    if (it != t.factories.end()) factory = it->second;
  }
  // Schedules plugins register live in the registry ("acme>Halving").
  if (!factory && registry != nullptr && registry->find(TypeKind::schedule, name) != nullptr) {
    std::shared_ptr<LearningRateSchedule> plugin_schedule =
        registry->create_schedule(name, spec.value("config", Json::object()));
    return [plugin_schedule](int epoch, double rate) { return plugin_schedule->learning_rate(epoch, rate); };
  }
  // Called unlocked: a factory may make the schedules it chains (warmup's "after").
  if (!factory) {
    std::string known = joined_names();
    if (registry != nullptr)
      for (const auto& n : registry->names(TypeKind::schedule)) known += ", " + n;
    throw InputError("LearningRateScheduler: unknown schedule \"" + name + "\" (known: " + known + ")");
  }
  Config config(spec.value("config", Json::object()), "LearningRateScheduler schedule \"" + name + "\"");
  Schedule schedule = factory(config);
  config.check_all_used();
  if (!schedule) throw InputError("LearningRateScheduler: the schedule \"" + name + "\" made no function");
  return schedule;
}

LearningRateScheduler::LearningRateScheduler(Config& config)
    : schedule_(make_schedule(config.require<Json>("schedule"), config.registry())),
      name_(config.raw("schedule")["class_name"].get<std::string>()),
      verbose_(config.get<int>("verbose", 0)) {
  if (verbose_ < 0 || verbose_ > 1) throw InputError("LearningRateScheduler: verbose must be 0 or 1");
}

LearningRateScheduler::LearningRateScheduler(Schedule schedule, int verbose)
    : schedule_(std::move(schedule)), name_("function"), verbose_(verbose) {
  if (!schedule_) throw InputError("LearningRateScheduler: the schedule is an empty function");
  CallbackAccess::set_type_name(*this, "LearningRateScheduler");
}

Optimizer& LearningRateScheduler::optimizer() const {
  Optimizer* optimizer = model().optimizer();
  if (optimizer == nullptr) throw RuntimeFailure("LearningRateScheduler needs a compiled model (it has no optimizer)");
  return *optimizer;
}

void LearningRateScheduler::on_train_begin(Logs&) {
  if (!loaded_) last_epoch_.reset();
  loaded_ = false;
}

void LearningRateScheduler::on_epoch_begin(int epoch, Logs&) {
  Optimizer& opt = optimizer();
  // A run resumed inside an epoch already scheduled gives the schedule the rate it had then.
  const double before = last_epoch_ == epoch ? rate_before_ : opt.learning_rate();
  const double lr = schedule_(epoch, before);
  if (!std::isfinite(lr) || lr < 0.0)
    throw RuntimeFailure("LearningRateScheduler: the schedule gave " + python_float(lr) + " for epoch " +
                         std::to_string(epoch) + "; a learning rate must be a non-negative number");
  opt.set_learning_rate(lr);
  last_epoch_ = epoch;
  rate_before_ = before;
  if (verbose_ > 0) {
    std::printf("\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n", epoch + 1,
                python_float(lr).c_str());
    std::fflush(stdout);
  }
}

void LearningRateScheduler::on_epoch_end(int, Logs& logs) { logs["learning_rate"] = optimizer().learning_rate(); }

Json LearningRateScheduler::state() const {
  return {{"last_epoch", last_epoch_ ? Json(*last_epoch_) : Json()}, {"rate_before", rate_before_}};
}

void LearningRateScheduler::load_state(const Json& state) {
  const std::string who = "LearningRateScheduler";
  const auto epoch = state_number(state, "last_epoch", who);
  last_epoch_ = epoch ? std::optional<int>(static_cast<int>(*epoch)) : std::nullopt;
  rate_before_ = state_number(state, "rate_before", who).value_or(0.0);
  loaded_ = true;
}

}  // namespace plugfit
