// A library a test plugin depends on.
extern "C" __attribute__((visibility("default"))) int plugfit_test_dependency_value() { return 7; }
