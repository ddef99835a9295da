// The registry of types by name: layers, callbacks, optimizers, losses and metrics.
//
// Built-in types have bare names ("Dense", "Adam", "ModelCheckpoint"); a plugin's types are
// qualified by the plugin's name ("acme>Scale"), and a short name ("Scale") resolves when
// exactly one plugin provides it. Registering a name twice is refused, naming both providers.
// Types are constructed from their JSON config, through a constructor taking Config& (unknown
// keys are then an error naming the key and the type) or const Json&.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "callback.hpp"
#include "checkpoint.hpp"
#include "config.hpp"
#include "export.hpp"
#include "layer.hpp"
#include "loss.hpp"
#include "optimizer.hpp"
#include "schedule.hpp"

namespace plugfit {

enum class TypeKind { layer, callback, optimizer, loss, metric, checkpoint_backend, schedule };
PLUGFIT_API const char* kind_name(TypeKind kind);

struct TypeEntry {
  std::string name;      // qualified: "Dense", "acme>Scale"
  TypeKind kind;
  std::string provider;  // plugin name; empty for built-ins
  std::string provider_version;
  std::function<void*(Config&)> factory;  // returns a new object of the kind's base class
  // "plugin acme 1.2.0", or empty for a built-in type.
  std::string origin() const { return provider.empty() ? std::string() : "plugin " + provider + " " + provider_version; }
};

class PLUGFIT_API Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  template <class T> void add_layer(std::string_view name) { add<Layer, T>(TypeKind::layer, name); }
  template <class T> void add_callback(std::string_view name) { add<Callback, T>(TypeKind::callback, name); }
  template <class T> void add_optimizer(std::string_view name) { add<Optimizer, T>(TypeKind::optimizer, name); }
  template <class T> void add_loss(std::string_view name) { add<Loss, T>(TypeKind::loss, name); }
  template <class T> void add_metric(std::string_view name) { add<Metric, T>(TypeKind::metric, name); }
  template <class T> void add_schedule(std::string_view name) {
    add<LearningRateSchedule, T>(TypeKind::schedule, name);
  }
  // A backend for URIs "scheme:LOCATION"; its constructor reads the location as config "path".
  template <class T> void add_checkpoint_backend(std::string_view scheme) {
    add<CheckpointBackend, T>(TypeKind::checkpoint_backend, scheme);
  }

  // Construct a type from {"class_name": ..., "config": {...}} parts. Throw InputError for an
  // unknown name (listing the known ones) or a bad config (naming the key).
  std::unique_ptr<Layer> create_layer(std::string_view name, const Json& config) const;
  std::unique_ptr<Callback> create_callback(std::string_view name, const Json& config) const;
  std::unique_ptr<Optimizer> create_optimizer(std::string_view name, const Json& config) const;
  std::unique_ptr<Loss> create_loss(std::string_view name, const Json& config) const;
  std::unique_ptr<Metric> create_metric(std::string_view name, const Json& config) const;
  std::unique_ptr<CheckpointBackend> create_checkpoint_backend(std::string_view scheme, const Json& config) const;
  std::unique_ptr<LearningRateSchedule> create_schedule(std::string_view name, const Json& config) const;

  // The entry for name (qualified, or a short name provided exactly once), or nullptr.
  const TypeEntry* find(TypeKind kind, std::string_view name) const;
  // Like find(), but throws InputError naming the kind and listing the known names.
  const TypeEntry& resolve(TypeKind kind, std::string_view name) const;
  // Qualified names of a kind, sorted.
  std::vector<std::string> names(TypeKind kind) const;
  std::vector<const TypeEntry*> entries() const;

  // Host side: types added between begin_provider and end_provider belong to that plugin.
  void begin_provider(std::string plugin, std::string version);
  void end_provider();
  // Host side: forgets every type a plugin registered (when its registration failed half way).
  void remove_provider(const std::string& plugin);

 private:
  template <class Base, class T>
  void add(TypeKind kind, std::string_view name) {
    static_assert(std::is_base_of_v<Base, T>, "the registered type must derive from the kind's base class");
    static_assert(std::is_constructible_v<T, Config&> || std::is_constructible_v<T, const Json&>,
                  "the registered type needs a constructor taking plugfit::Config& or const plugfit::Json&");
    add_entry(kind, name, [](Config& config) -> void* {
      if constexpr (std::is_constructible_v<T, Config&>) {
        return static_cast<Base*>(new T(config));
      } else {
        void* made = static_cast<Base*>(new T(config.json()));
        config.accept_all();
        return made;
      }
    });
  }
  void add_entry(TypeKind kind, std::string_view name, std::function<void*(Config&)> factory);
  void* create(TypeKind kind, std::string_view name, const Json& config, const TypeEntry** entry) const;

  std::map<std::string, TypeEntry, std::less<>> entries_;
  std::string provider_;
  std::string provider_version_;
};

}  // namespace plugfit
