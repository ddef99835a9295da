// The SDK's backend conformance suite on the sqlite: backend (plugin sqlite_backend).
#include "conformance_support.hpp"

TEST_CASE("sqlite: passes the checkpoint backend conformance suite") {
  plugfit::test::run_plugin_conformance("sqlite_backend", "sqlite", "run.db", [](const std::filesystem::path& db) {
    // Stale copies of the victim may sit in free pages or the WAL: damage every one.
    int flipped = plugfit::test::flip_runs_of(db, 2.0f);
    if (const std::filesystem::path wal = db.string() + "-wal"; std::filesystem::exists(wal))
      flipped += plugfit::test::flip_runs_of(wal, 2.0f);
    return flipped;
  });
}
