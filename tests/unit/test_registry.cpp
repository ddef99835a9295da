#include <doctest/doctest.h>

#include <plugfit/registry.hpp>

#include "builtins/builtins.hpp"
#include "registry/registry_access.hpp"

using namespace plugfit;

namespace {
class Scale final : public Layer {
 public:
  explicit Scale(Config& c) : factor_(c.get<float>("factor", 1.f)) {}
  Shape build(const Shape& in, BuildContext&) override { return in; }
  const Tensor& forward(const Tensor& x, bool) override { return y_ = x * factor_; }
  const Tensor& backward(const Tensor& dy) override { return dx_ = dy * factor_; }
  Json get_config() const override { return {{"factor", factor_}}; }
  float factor_;
  Tensor y_, dx_;
};

class JsonConfigured final : public Callback {
 public:
  explicit JsonConfigured(const Json& config) : value(config.value("value", 0)) {}
  int value;
};
}  // namespace

TEST_CASE("built-in types have bare names and construct from configs") {
  Registry r;
  register_builtins(r);
  for (const char* name : {"Dense", "Dropout", "Flatten", "Activation", "InputLayer"})
    CHECK(r.find(TypeKind::layer, name) != nullptr);
  for (const char* name : {"Adam", "SGD", "RMSprop", "adam"}) CHECK(r.find(TypeKind::optimizer, name) != nullptr);
  CHECK(r.create_layer("Dense", {{"units", 2}}) != nullptr);
}

TEST_CASE("an unknown name lists the known ones") {
  Registry r;
  register_builtins(r);
  CHECK_THROWS_WITH_AS(r.create_layer("Dens", {{"units", 2}}),
                       doctest::Contains("unknown layer \"Dens\" (known: Activation, "), InputError);
  // The known list is the registry's, sorted (the README's layer table is checked against it).
  CHECK_THROWS_WITH_AS(r.create_layer("Dens", {{"units", 2}}), doctest::Contains(", Dense, "), InputError);
  CHECK_THROWS_WITH_AS(r.create_optimizer("Adamw", Json::object()), doctest::Contains("unknown optimizer \"Adamw\""),
                       InputError);
}

TEST_CASE("an unknown config key names the key and the type") {
  Registry r;
  register_builtins(r);
  CHECK_THROWS_WITH_AS(r.create_layer("Dense", {{"units", 2}, {"unitz", 3}}),
                       doctest::Contains("Dense has no option \"unitz\""), InputError);
  CHECK_THROWS_WITH_AS(r.create_optimizer("Adam", {{"learning_rte", 0.1}}),
                       doctest::Contains("Adam has no option \"learning_rte\""), InputError);
}

TEST_CASE("plugin types are qualified, short names resolve when unambiguous") {
  Registry r;
  register_builtins(r);
  RegistryAccess::for_plugin(r, "acme", "1.2.0").add_layer<Scale>("Scale");
  CHECK(r.find(TypeKind::layer, "acme>Scale") != nullptr);
  CHECK(r.find(TypeKind::layer, "Scale")->name == "acme>Scale");
  CHECK(r.find(TypeKind::layer, "Scale")->provider_version == "1.2.0");

  RegistryAccess::for_plugin(r, "other", "0.1").add_layer<Scale>("Scale");
  CHECK(r.find(TypeKind::layer, "Scale") == nullptr);
  CHECK_THROWS_WITH_AS(r.resolve(TypeKind::layer, "Scale"),
                       "the layer name \"Scale\" is ambiguous; qualify it as one of: acme>Scale, other>Scale",
                       InputError);
  CHECK(r.create_layer("other>Scale", {{"factor", 2.0}}) != nullptr);
}

TEST_CASE("a duplicate name is refused naming both providers") {
  Registry r;
  Registrar acme = RegistryAccess::for_plugin(r, "acme", "1.2.0");
  acme.add_layer<Scale>("Scale");
  CHECK_THROWS_WITH_AS(acme.add_layer<Scale>("Scale"),
                       "the layer type \"acme>Scale\" is registered twice: by plugin acme 1.2.0 and by plugin acme 1.2.0",
                       InputError);
  register_builtins(r);
  CHECK_THROWS_WITH_AS(RegistryAccess::builtins(r).add_layer<Scale>("Dense"),
                       "the layer type \"Dense\" is registered twice: by plugfit (built in) and by plugfit (built in)",
                       InputError);
}

TEST_CASE("types constructed from plain JSON are accepted as they are") {
  Registry r;
  RegistryAccess::builtins(r).add_callback<JsonConfigured>("JsonConfigured");
  auto cb = r.create_callback("JsonConfigured", {{"value", 4}, {"anything", 1}});
  CHECK(static_cast<JsonConfigured&>(*cb).value == 4);
  CHECK(cb->type_name() == "JsonConfigured");
}

TEST_CASE("a registrar refuses names that would forge a provider or cannot be spelled back") {
  Registry r;
  Registrar acme = RegistryAccess::for_plugin(r, "acme", "1.2.0");
  CHECK_THROWS_WITH_AS(acme.add_layer<Scale>("other>Scale"),
                       "plugin acme cannot register the layer \"other>Scale\": a type name is a letter or '_' followed "
                       "by up to 63 letters, digits, '_', '.' or '-' (no '>': the host qualifies a plugin's types with "
                       "the plugin's own name)",
                       InputError);
  CHECK_THROWS_WITH_AS(acme.add_layer<Scale>(">Scale"), doctest::Contains("(no '>'"), InputError);
  for (const char* bad : {"", "1Scale", "Sca le", "Scale\n", "a/b"})
    CHECK_THROWS_WITH_AS(acme.add_layer<Scale>(bad), doctest::Contains("plugin acme cannot register the layer"),
                         InputError);
  CHECK_THROWS_AS(acme.add_layer<Scale>(std::string(65, 'a')), InputError);
  CHECK(r.entries().empty());
  CHECK_THROWS_WITH_AS(RegistryAccess::builtins(r).add_layer<Scale>("a>b"),
                       doctest::Contains("plugfit cannot register the layer \"a>b\""), InputError);
  acme.add_layer<Scale>("Scale_2.v-1");
  CHECK(r.find(TypeKind::layer, "acme>Scale_2.v-1") != nullptr);
  CHECK(acme.provider() == "acme");
}
