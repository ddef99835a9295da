// Keras's filepath templates: Python str.format fields over the epoch, batch and logs.
//   "best.{epoch:02d}-{val_loss:.4f}" with epoch 3, val_loss 0.41234 -> "best.03-0.4123"
// Supported specs: [[fill]align][0][width][.precision][type], type one of d f e g %, or none.
#pragma once

#include <map>
#include <string>

namespace plugfit {

// Throws InputError naming the template and the field when a key is missing or a spec is bad.
std::string format_template(const std::string& pattern, const std::map<std::string, double>& values);

}  // namespace plugfit
