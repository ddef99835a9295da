// The plugin loader on real shared libraries: first-party plugins load by name from the build
// tree; every malformed plugin is refused with a sentence naming it; faults inside plugin code
// are reported naming the plugin, the type and the hook.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>
#include <plugfit/version.hpp>

#include "plugin_loading/loader.hpp"
#include "builtins/builtins.hpp"
#include "training/fit.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;
namespace fs = std::filesystem;

namespace {

const std::string kTestPlugins = PLUGFIT_TEST_PLUGIN_DIR;

std::string test_plugin(const std::string& name) { return kTestPlugins + "/" + name + ".so"; }

std::string refusal(const std::string& name, const std::string& file) {
  Registry registry;
  try {
    PluginLoader::load_file(file, name, registry);
  } catch (const PluginError& e) {
    CHECK(registry.names(TypeKind::callback).empty());  // nothing half registered
    return e.what();
  }
  return "(loaded)";
}


}  // namespace

TEST_CASE("first-party plugins load by name from the build tree and register qualified types") {
  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry);
  const PluginInfo& info = loader.load("custom_layers");
  CHECK(info.version == "0.1.0");
  CHECK(info.abi_major == PLUGFIT_SDK_ABI_MAJOR);
  CHECK(fs::path(info.file).is_absolute());
  CHECK(registry.find(TypeKind::layer, "custom_layers>MyCustomLayer") != nullptr);
  CHECK(registry.find(TypeKind::layer, "MyCustomLayer")->name == "custom_layers>MyCustomLayer");
  CHECK(&loader.load("custom_layers") == &info);  // loaded once
}

TEST_CASE("the custom layers pass the SDK's gradient check") {
  Registry registry;
  PluginLoader loader(registry);
  loader.load("custom_layers");
  for (const auto& [type, config] : std::vector<std::pair<std::string, Json>>{
           {"custom_layers>MyCustomLayer", {{"units", 4}}},
           {"custom_layers>Scale", Json::object()},
           {"custom_layers>LeakyReLU", {{"negative_slope", 0.2}}}}) {
    auto layer = registry.create_layer(type, config);
    const auto result = testing::check_layer_gradients(*layer, {5});
    INFO(type << "\n" << result.report);
    CHECK(result.passed);
  }
}

// This SDK's ABI as the loader prints it ("4.0").
const std::string kAbi = std::to_string(PLUGFIT_SDK_ABI_MAJOR) + "." + std::to_string(PLUGFIT_SDK_ABI_MINOR);

TEST_CASE("each malformed plugin is refused with a clear sentence") {
  CHECK(refusal("bad_no_descriptor", test_plugin("bad_no_descriptor")) ==
        test_plugin("bad_no_descriptor") +
            " is not a plugfit plugin: it has no .note.plugfit (PLUGFIT_PLUGIN writes one; rebuild it against this SDK)");
  CHECK(refusal("bad_no_note", test_plugin("bad_no_note")) ==
        test_plugin("bad_no_note") +
            " is not a plugfit plugin: it has no .note.plugfit (PLUGFIT_PLUGIN writes one; rebuild it against this SDK)");
  CHECK(refusal("bad_note_mismatch", test_plugin("bad_note_mismatch")) ==
        "plugin \"bad_note_mismatch\" 9.9.9 (" + test_plugin("bad_note_mismatch") +
            ") has a plugfit_plugin descriptor that does not match its .note.plugfit");
  CHECK(refusal("bad_abi_major", test_plugin("bad_abi_major")) ==
        "plugin \"bad_abi_major\" 9.9.9 (" + test_plugin("bad_abi_major") +
            ") was built for SDK ABI " + std::to_string(PLUGFIT_SDK_ABI_MAJOR + 1) + ".0, but this plugfit has ABI " + kAbi + "; rebuild it against this SDK");
  CHECK(refusal("bad_abi_minor", test_plugin("bad_abi_minor")) ==
        "plugin \"bad_abi_minor\" 9.9.9 (" + test_plugin("bad_abi_minor") +
            ") was built for SDK ABI " + std::to_string(PLUGFIT_SDK_ABI_MAJOR) + "." + std::to_string(PLUGFIT_SDK_ABI_MINOR + 1) + ", newer than this plugfit's " +
            kAbi + "; upgrade plugfit or rebuild the plugin against this SDK");
  CHECK(refusal("bad_toolchain", test_plugin("bad_toolchain"))
            .find("was built with toolchain \"gcc-4;gxx-abi-1002\", but this plugfit needs \"gcc-") != std::string::npos);
  CHECK(refusal("bad_register_throws", test_plugin("bad_register_throws")) ==
        "plugin \"bad_register_throws\" 9.9.9 (" + test_plugin("bad_register_throws") +
            ") failed to register its types: no licence key found");
  CHECK(refusal("bad_duplicate_type", test_plugin("bad_duplicate_type")) ==
        "plugin \"bad_duplicate_type\" 9.9.9 (" + test_plugin("bad_duplicate_type") +
            ") failed to register its types: the callback type \"bad_duplicate_type>Noop\" is registered twice: by "
            "plugin bad_duplicate_type 9.9.9 and by plugin bad_duplicate_type 9.9.9");
  CHECK(refusal("bad_wrong_name", test_plugin("bad_wrong_name")) ==
        "the file " + test_plugin("bad_wrong_name") +
            " should hold plugin \"bad_wrong_name\" but declares \"someone_else\"");
}

TEST_CASE("a refused plugin runs none of its code: its static constructors never run") {
  const fs::path marker = fs::temp_directory_path() / ("plugfit-marker-" + std::to_string(::getpid()));
  fs::remove(marker);
  ::setenv("PLUGFIT_TEST_MARKER", marker.c_str(), 1);
  CHECK(refusal("bad_abi_constructor", test_plugin("bad_abi_constructor")) ==
        "plugin \"bad_abi_constructor\" 9.9.9 (" + test_plugin("bad_abi_constructor") + ") was built for SDK ABI " +
            std::to_string(PLUGFIT_SDK_ABI_MAJOR + 1) + ".0, but this plugfit has ABI " + kAbi + "; rebuild it against this SDK");
  ::unsetenv("PLUGFIT_TEST_MARKER");
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a plugin cannot register under another provider's name or a bare name") {
  CHECK(refusal("bad_forged_provider", test_plugin("bad_forged_provider")) ==
        "plugin \"bad_forged_provider\" 9.9.9 (" + test_plugin("bad_forged_provider") +
            ") failed to register its types: plugin bad_forged_provider cannot register the callback "
            "\"custom_layers>Noop\": a type name is a letter or '_' followed by up to 63 letters, digits, '_', '.' "
            "or '-' (no '>': the host qualifies a plugin's types with the plugin's own name)");
  CHECK(refusal("bad_bare_name", test_plugin("bad_bare_name")) ==
        "plugin \"bad_bare_name\" 9.9.9 (" + test_plugin("bad_bare_name") +
            ") failed to register its types: plugin bad_bare_name cannot register the callback \">Noop\": a type "
            "name is a letter or '_' followed by up to 63 letters, digits, '_', '.' or '-' (no '>': the host "
            "qualifies a plugin's types with the plugin's own name)");
}

// A missing dependency library is tested end to end (tests/cli, plugin_refusals_listed): meson
// puts the dependency's folder on this test's LD_LIBRARY_PATH, which ld.so reads at start-up.

TEST_CASE("names that are not found list the paths searched; paths are never names") {
  Registry registry;
  PluginLoader loader(registry, {kTestPlugins});
  const std::string expected = "plugin \"nope\" was not found (looked for nope.so in: " + kTestPlugins + ", ";
  CHECK_THROWS_WITH_AS(loader.load("nope"), doctest::Contains(expected.c_str()), PluginError);
  CHECK_THROWS_WITH_AS(loader.load(test_plugin("faulty")), doctest::Contains("is not a plugin name"), PluginError);
  CHECK_THROWS_WITH_AS(loader.load_plugins_named_in({{"layers", {{{"class_name", "../../tmp/evil>Scale"}}}}}),
                       doctest::Contains("\"../../tmp/evil\" is not a plugin name"), PluginError);
  CHECK_THROWS_WITH_AS(PluginLoader::load_file("faulty.so", "faulty", registry),
                       "plugin file faulty.so is not an absolute path", PluginError);
}

TEST_CASE("directories writable by everyone are not searched") {
  TempDir dir;
  fs::copy_file(test_plugin("faulty"), dir.path / "faulty.so");
  ::chmod(dir.path.c_str(), 0777);
  Registry registry;
  PluginLoader loader(registry, {dir.path.string()});
  CHECK(loader.search_path_text().find("skipped " + dir.path.string() + " (writable by everyone)") != std::string::npos);
  CHECK_THROWS_AS(loader.load("faulty"), PluginError);
  ::chmod(dir.path.c_str(), 0755);
  Registry registry2;
  PluginLoader loader2(registry2, {dir.path.string()});
  CHECK(loader2.load("faulty").name == "faulty");
}

TEST_CASE("a plugin is refused when anyone could have written it: the file, its subfolder, a parent, a symlink's target") {
  auto refused_with = [](const fs::path& search_dir, const std::string& part) {
    Registry registry;
    PluginLoader loader(registry, {search_dir.string()});
    try {
      loader.load("faulty");
      FAIL("faulty loaded from " << search_dir);
    } catch (const PluginError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(part) != std::string::npos);
    }
  };
  {  // the library itself 0666
    TempDir dir;
    fs::copy_file(test_plugin("faulty"), dir.path / "faulty.so");
    ::chmod((dir.path / "faulty.so").c_str(), 0666);
    refused_with(dir.path, "is refused: the file is writable by everyone");
  }
  {  // its own subfolder (dir/faulty/faulty.so) writable by everyone
    TempDir dir;
    fs::create_directory(dir.path / "faulty");
    fs::copy_file(test_plugin("faulty"), dir.path / "faulty" / "faulty.so");
    ::chmod((dir.path / "faulty").c_str(), 0777);
    refused_with(dir.path, (dir.path / "faulty").string() + " is writable by everyone");
  }
  {  // a folder above the search path entry writable by everyone (not sticky)
    TempDir dir;
    fs::create_directories(dir.path / "shared" / "plugins");
    fs::copy_file(test_plugin("faulty"), dir.path / "shared" / "plugins" / "faulty.so");
    ::chmod((dir.path / "shared").c_str(), 0777);
    Registry registry;
    PluginLoader loader(registry, {(dir.path / "shared" / "plugins").string()});
    CHECK(loader.search_path_text().find((dir.path / "shared").string() + " is writable by everyone") != std::string::npos);
    CHECK_THROWS_AS(loader.load("faulty"), PluginError);
  }
  {  // a symlink from a safe folder into a writable one
    TempDir dir;
    fs::create_directories(dir.path / "safe");
    fs::create_directories(dir.path / "open");
    fs::copy_file(test_plugin("faulty"), dir.path / "open" / "faulty.so");
    ::chmod((dir.path / "open").c_str(), 0777);
    fs::create_symlink(dir.path / "open" / "faulty.so", dir.path / "safe" / "faulty.so");
    refused_with(dir.path / "safe", (dir.path / "open").string() + " is writable by everyone");
  }
  {  // a sticky world-writable folder above (as /tmp) does not count: owners alone rename in it
    TempDir dir;
    fs::create_directories(dir.path / "sticky" / "plugins");
    fs::copy_file(test_plugin("faulty"), dir.path / "sticky" / "plugins" / "faulty.so");
    ::chmod((dir.path / "sticky").c_str(), 01777);
    Registry registry;
    PluginLoader loader(registry, {(dir.path / "sticky" / "plugins").string()});
    CHECK(loader.load("faulty").name == "faulty");
  }
}

TEST_CASE("scan lists good plugins and says why each other file was refused") {
  Registry registry;
  const PluginLoader loader(registry, {kTestPlugins});
  const auto scan = loader.scan();
  std::set<std::string> good;
  for (const auto& p : scan.plugins) good.insert(p.name);
  CHECK(good.count("faulty") == 1);
  CHECK(good.count("custom_layers") == 1);
  std::map<std::string, std::string> refused;
  for (const auto& r : scan.refused) refused[fs::path(r.file).stem().string()] = r.reason;
  for (const char* bad : {"bad_abi_major", "bad_abi_minor", "bad_toolchain", "bad_register_throws",
                          "bad_duplicate_type", "bad_no_descriptor", "bad_wrong_name", "bad_forged_provider",
                          "bad_bare_name", "bad_abi_constructor", "bad_no_note", "bad_note_mismatch"})
    CHECK_MESSAGE(refused.count(bad) == 1, bad);
}

TEST_CASE("faults inside plugin code name the plugin, the type and the hook") {
  Registry registry;
  register_builtins(registry);
  PluginLoader loader(registry, {kTestPlugins});
  loader.load("faulty");
  CHECK_THROWS_WITH_AS(registry.create_callback("faulty>BadInit", Json::object()),
                       "callback faulty>BadInit (plugin faulty 0.0.1) failed in its constructor: cannot reach the "
                       "metrics server",
                       RuntimeFailure);

  Dataset data;
  data.spec = "tiny";
  data.x = xt::ones<float>({8, 3});
  data.y = xt::zeros<float>({8});
  auto compile = [&](const Json& layers) {
    auto model = Sequential::from_config({{"layers", layers}}, registry);
    model->build({3}, 0);
    model->compile(registry.create_optimizer("SGD", Json::object()),
                   registry.create_loss("sparse_categorical_crossentropy", Json::object()),
                   "sparse_categorical_crossentropy", {});
    return model;
  };
  FitOptions options;
  options.epochs = 2;
  options.verbose = 0;

  SUBCASE("a callback throwing in on_epoch_end: on_exception and on_train_end still run") {
    TempDir dir;
    const std::string trace = (dir.path / "trace.txt").string();
    auto model = compile({{{"class_name", "Dense"}, {"config", {{"units", 2}, {"activation", "softmax"}}}}});
    auto thrower = registry.create_callback("faulty>Thrower", {{"trace", trace}});
    CHECK_THROWS_WITH_AS(fit(*model, data, options, {thrower.get()}),
                         "callback faulty>Thrower (plugin faulty 0.0.1) failed in on_epoch_end: deliberate failure",
                         RuntimeFailure);
    std::ifstream in(trace);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    const std::vector<std::string> expected{
        "on_train_begin", "on_epoch_end",
        "on_exception: callback faulty>Thrower (plugin faulty 0.0.1) failed in on_epoch_end: deliberate failure",
        "on_train_end"};
    CHECK(lines == expected);
  }
  SUBCASE("a layer throwing in forward") {
    auto model = compile({{{"class_name", "faulty>BadLayer"}, {"config", {{"after", 1}}}},
                          {{"class_name", "Dense"}, {"config", {{"units", 2}, {"activation", "softmax"}}}}});
    CHECK_THROWS_WITH_AS(
        fit(*model, data, options, {}),
        "layer \"bad_layer\" (faulty>BadLayer, plugin faulty 0.0.1) failed in forward: index 7 out of range",
        RuntimeFailure);
  }
}

TEST_CASE("DynamicReloadCheckpoint tracks the best value in its state, which a resume restores") {
  Registry registry;
  PluginLoader loader(registry);
  loader.load("dynamic_reload");
  auto cb = registry.create_callback("DynamicReloadCheckpoint", {{"checkpoint", "dir:/nonexistent"}, {"mode", "max"},
                                                                 {"monitor", "val_accuracy"}});
  CHECK(cb->type_name() == "dynamic_reload>DynamicReloadCheckpoint");
  for (double v : {0.5, 0.6, 0.7}) {  // improving: no reload, so no checkpoint is needed
    Logs logs;
    logs["val_accuracy"] = v;
    cb->on_epoch_end(0, logs);
  }
  CHECK(cb->state() == Json({{"best", 0.7}, {"reloads", 0}}));
  auto resumed = registry.create_callback("DynamicReloadCheckpoint", {{"checkpoint", "dir:/nonexistent"},
                                                                      {"mode", "max"}, {"monitor", "val_accuracy"}});
  resumed->load_state(cb->state());
  CHECK(resumed->state() == cb->state());
  Logs missing;
  missing["loss"] = 1.0;
  CHECK_THROWS_WITH_AS(resumed->on_epoch_end(3, missing), doctest::Contains("monitors \"val_accuracy\""), InputError);
  CHECK_THROWS_WITH_AS(registry.create_callback("DynamicReloadCheckpoint", {{"checkpoint", "dir:x"}, {"mode", "up"}}),
                       doctest::Contains("mode must be"), InputError);
}
