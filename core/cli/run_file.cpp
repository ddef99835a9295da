#include "run_file.hpp"

#include <filesystem>

#include "../training/thread_policy.hpp"
#include "../util/json_file.hpp"

namespace plugfit {

namespace fs = std::filesystem;

TypeSpec TypeSpec::from_json(const Json& spec, const std::string& what) {
  if (spec.is_string()) return {spec.get<std::string>(), Json::object()};
  if (spec.is_object() && spec.contains("class_name") && spec["class_name"].is_string()) {
    for (auto it = spec.begin(); it != spec.end(); ++it)
      if (it.key() != "class_name" && it.key() != "config" && it.key() != "module" && it.key() != "registered_name")
        throw InputError(what + " has an unknown field \"" + it.key() + "\" (known: class_name, config)");
    return {spec["class_name"].get<std::string>(), spec.value("config", Json::object())};
  }
  throw InputError(what + " must be a name or {\"class_name\": ..., \"config\": {...}}, got " + spec.dump());
}

RunSpec read_run_file(const std::string& path) {
  const Json root = read_json_file(path);
  if (!root.is_object()) throw InputError(path + ": a run file must be a JSON object");
  RunSpec run;
  run.path = path;
  const fs::path base = fs::path(path).parent_path();
  // Every section is read through a Config, so that a misspelt field is an error naming it.
  auto in = [&](const std::string& section) { return path + ": " + section; };
  in_run_file(path, [&] {
    Config top(root, path);
    const Json model = top.require<Json>("model");
    if (model.is_string()) {
      const fs::path model_path = base / model.get<std::string>();
      run.model = read_json_file(model_path.string());
    } else {
      run.model = model;
    }

    Config data(top.require<Json>("data"), in("\"data\""));
    run.train_data = data.require<std::string>("train");
    run.validation_data = data.get<std::string>("validation", "");
    run.test_data = data.get<std::string>("test", "");
    data.check_all_used();

    Config compile(top.get<Json>("compile", Json::object()), in("\"compile\""));
    if (compile.has("optimizer")) run.optimizer = TypeSpec::from_json(compile.raw("optimizer"), in("compile.optimizer"));
    if (compile.has("loss")) run.loss = TypeSpec::from_json(compile.raw("loss"), in("compile.loss"));
    const Json metrics = compile.get<Json>("metrics", Json::array());
    if (!metrics.is_array()) throw InputError(in("compile.metrics") + " must be a list");
    for (const auto& m : metrics) run.metrics.push_back(TypeSpec::from_json(m, in("compile.metrics")));
    compile.check_all_used();

    Config fit(top.get<Json>("fit", Json::object()), in("\"fit\""));
    run.epochs = fit.get<int>("epochs", run.epochs);
    run.batch_size = fit.get<std::size_t>("batch_size", run.batch_size);
    run.shuffle = fit.get<bool>("shuffle", run.shuffle);
    run.validation_split = fit.get<double>("validation_split", run.validation_split);
    if (fit.has("seed")) run.seed = fit.get<std::uint64_t>("seed", 0);
    run.verbose = fit.get<int>("verbose", run.verbose);
    run.gradient_block_rows = fit.get<std::size_t>("gradient_block_rows", run.gradient_block_rows);
    if (fit.has("threads")) {
      const Json threads = fit.get<Json>("threads", Json());
      run.threads = parse_threads(threads.is_string() ? threads.get<std::string>() : threads.dump(), in("fit.threads"));
    }
    fit.check_all_used();

    const Json plugins = top.get<Json>("plugins", Json::array());
    if (!plugins.is_array()) throw InputError(in("\"plugins\"") + " must be a list of plugin names");
    for (const auto& p : plugins) {
      if (!p.is_string()) throw InputError(in("\"plugins\"") + " must be a list of plugin names, got " + p.dump());
      run.plugins.push_back(p.get<std::string>());
    }
    const Json callbacks = top.get<Json>("callbacks", Json::array());
    if (!callbacks.is_array()) throw InputError(in("\"callbacks\"") + " must be a list");
    for (const auto& c : callbacks) run.callbacks.push_back(TypeSpec::from_json(c, in("a callback")));
    run.checkpoint = top.get<Json>("checkpoint", Json());
    if (!run.checkpoint.is_null() && !run.checkpoint.is_string() &&
        !(run.checkpoint.is_object() && run.checkpoint.contains("uri") && run.checkpoint["uri"].is_string()))
      throw InputError(in("\"checkpoint\"") + " must be a URI or {\"uri\": ..., \"max_to_keep\": ...}");
    run.load_weights = top.get<std::string>("load_weights", "");
    const Json distributed = top.get<Json>("distributed", Json());
    if (distributed.is_string()) {
      run.distributed = distributed.get<std::string>();
    } else if (distributed.is_object()) {
      Config d(distributed, in("\"distributed\""));
      run.distributed = d.require<std::string>("backend");
      run.collective_timeout = d.get<double>("collective_timeout", 0.0);
      if (!(run.collective_timeout >= 0.0))
        throw InputError(in("distributed.collective_timeout") + " must be a non-negative number of seconds (0: none)");
      d.check_all_used();
    } else if (!distributed.is_null()) {
      throw InputError(in("\"distributed\"") + " must be a communicator name (\"mpi\") or {\"backend\": \"mpi\", "
                       "\"collective_timeout\": SECONDS}");
    }
    top.check_all_used();
  });
  return run;
}

}  // namespace plugfit
