// Losses: the mean over the batch of a per-sample loss, and its gradient.
#pragma once

#include <span>

#include "config.hpp"
#include "export.hpp"
#include "tensor.hpp"

namespace plugfit {

class PLUGFIT_API Loss {
 public:
  virtual ~Loss();
  // requires: y_pred is (batch, ...); y_true holds the targets for the same batch.
  // ensures: returns the batch mean of the loss; when grad is not null, *grad is
  //          d(returned mean)/d(y_pred), shaped as y_pred.
  // Throws InputError naming both shapes when y_true does not fit y_pred.
  virtual double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const = 0;

  // Cross-entropies fuse with a preceding softmax: given the softmax output, they return the
  // loss and d(loss)/d(logits), which is exact and avoids the softmax Jacobian.
  virtual bool fuses_with_softmax() const { return false; }
  virtual double compute_from_softmax(const Tensor& probs, const Tensor& y_true, Tensor* grad_logits) const;

  virtual Json get_config() const { return Json::object(); }
};

class PLUGFIT_API Metric {
 public:
  virtual ~Metric();
  virtual void reset() = 0;
  // Accumulates the batch. The result is the metric over every sample since reset().
  virtual void update(const Tensor& y_pred, const Tensor& y_true) = 0;
  // The sums the result is computed from (a mean: {total, count}; AUC: its bucket counts), so
  // that data-parallel ranks combine: result_of(the element-wise sum of every rank's totals())
  // is the metric over all their samples, as one process would compute it.
  //   ensures: the size is fixed from construction on (the same on every rank); the span stays
  //            valid until the next update() or reset().
  virtual std::span<const double> totals() const = 0;
  virtual double result_of(std::span<const double> totals) const = 0;
  double result() const { return result_of(totals()); }
  // +1 when larger is better (accuracy), -1 when smaller is better. Used by mode "auto".
  virtual int direction() const { return +1; }

  // The key in logs ("accuracy"); set from the name the user asked for.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

 private:
  std::string name_;
};

}  // namespace plugfit
