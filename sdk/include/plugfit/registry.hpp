// The registry of types by name: layers, callbacks, optimizers, losses, metrics, checkpoint
// backends, schedules and communicators.
//
// Built-in types have bare names ("Dense", "Adam", "ModelCheckpoint"); a plugin's types are
// qualified by the plugin's name ("acme>Scale"), stamped by the host's Registrar, and a short
// name ("Scale") resolves when exactly one plugin provides it. Registering a name twice is refused, naming both providers.
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
#include "communicator.hpp"
#include "config.hpp"
#include "export.hpp"
#include "layer.hpp"
#include "loss.hpp"
#include "optimizer.hpp"
#include "schedule.hpp"

namespace plugfit {

enum class TypeKind { layer, callback, optimizer, loss, metric, checkpoint_backend, schedule, communicator };
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

class Registry;
struct RegistryAccess;  // host only: builds registrars and forgets a failed plugin's types

// What a plugin's register function receives: adds types under the plugin's own name.
//
// The host binds a registrar to one provider before handing it over: the plugin "acme"
// registers add_layer<Scale>("Scale") and the type is known as "acme>Scale"; plugfit's
// built-ins register through a registrar with no provider and get bare names. A plugin cannot
// name another provider or a bare name.
//   requires: name is a letter or '_' followed by letters, digits, '_', '.' or '-' (at most 64
//             characters), not yet registered for the kind; T derives from the kind's base
//             class and has a constructor taking Config& or const Json&.
//   ensures:  the type is registered, or InputError says in one sentence which name was refused
//             and why (and nothing was registered).
class PLUGFIT_API Registrar {
 public:
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  template <class T> void add_layer(std::string_view name) { add<Layer, T>(TypeKind::layer, name); }
  template <class T> void add_callback(std::string_view name) { add<Callback, T>(TypeKind::callback, name); }
  template <class T> void add_optimizer(std::string_view name) { add<Optimizer, T>(TypeKind::optimizer, name); }
  template <class T> void add_loss(std::string_view name) { add<Loss, T>(TypeKind::loss, name); }
  template <class T> void add_metric(std::string_view name) { add<Metric, T>(TypeKind::metric, name); }
  template <class T> void add_schedule(std::string_view name) {
    add<LearningRateSchedule, T>(TypeKind::schedule, name);
  }
  // A transport for `--distributed NAME` (communicator.hpp); at most one is made per process.
  template <class T> void add_communicator(std::string_view name) {
    add<Communicator, T>(TypeKind::communicator, name);
  }
  // A backend for URIs "scheme:LOCATION"; its constructor reads the location as config "path".
  template <class T> void add_checkpoint_backend(std::string_view scheme) {
    add<CheckpointBackend, T>(TypeKind::checkpoint_backend, scheme);
  }

  // The plugin whose types this registrar adds; empty for plugfit's built-ins.
  const std::string& provider() const { return provider_; }

 private:
  friend struct RegistryAccess;
  Registrar(Registry& registry, std::string provider, std::string provider_version);

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

  Registry& registry_;
  std::string provider_;
  std::string provider_version_;
};

// Every registered type, read by the host; types enter only through a Registrar.
class PLUGFIT_API Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Construct a type from {"class_name": ..., "config": {...}} parts. Throw InputError for an
  // unknown name (listing the known ones) or a bad config (naming the key).
  std::unique_ptr<Layer> create_layer(std::string_view name, const Json& config) const;
  std::unique_ptr<Callback> create_callback(std::string_view name, const Json& config) const;
  std::unique_ptr<Optimizer> create_optimizer(std::string_view name, const Json& config) const;
  std::unique_ptr<Loss> create_loss(std::string_view name, const Json& config) const;
  std::unique_ptr<Metric> create_metric(std::string_view name, const Json& config) const;
  std::unique_ptr<CheckpointBackend> create_checkpoint_backend(std::string_view scheme, const Json& config) const;
  std::unique_ptr<LearningRateSchedule> create_schedule(std::string_view name, const Json& config) const;
  std::unique_ptr<Communicator> create_communicator(std::string_view name, const Json& config) const;

  // The entry for name (qualified, or a short name provided exactly once), or nullptr.
  const TypeEntry* find(TypeKind kind, std::string_view name) const;
  // Like find(), but throws InputError naming the kind and listing the known names.
  const TypeEntry& resolve(TypeKind kind, std::string_view name) const;
  // Qualified names of a kind, sorted.
  std::vector<std::string> names(TypeKind kind) const;
  std::vector<const TypeEntry*> entries() const;

 private:
  friend class Registrar;
  friend struct RegistryAccess;
  void insert(TypeEntry entry);
  void remove_provider(const std::string& plugin);
  void* create(TypeKind kind, std::string_view name, const Json& config, const TypeEntry** entry) const;

  std::map<std::string, TypeEntry, std::less<>> entries_;
};

}  // namespace plugfit
