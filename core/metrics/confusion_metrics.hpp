// Keras's confusion-matrix metrics (keras/src/metrics/confusion_metrics.py), accumulated over
// every sample since reset() and reset per epoch like the other metrics. Targets count as
// positive when nonzero; every output of every sample is one binary decision (multi_label false).
//
//   Precision, Recall  thresholds 0.5 (a prediction is positive when > threshold), class_id
//                      (only that output column is counted); the result is tp / (tp + fp) or
//                      tp / (tp + fn), 0 when nothing was counted (Keras's divide_no_nan).
//   AUC                num_thresholds 200 evenly spaced thresholds: -1e-7, i / (n - 1) for
//                      i = 1..n-2, 1 + 1e-7; predictions are bucketed as Keras's
//                      ceil(p (n - 1)) - 1 (>= 0), curve "ROC" or "PR", summation_method
//                      "interpolation" (ROC: trapezoids; PR: Davis & Goadrich's interpolation,
//                      Keras's interpolate_pr_auc), "minoring" or "majoring"; from_logits applies
//                      a sigmoid first. Predictions are expected in [0, 1]; outside, they count
//                      in the first or last bucket.
// Options Keras has but plugfit does not compute (top_k, several thresholds, multi_label,
// label_weights, AUC's own thresholds) are refused with a sentence naming them.
#pragma once

namespace plugfit {

class Registrar;
void register_confusion_metrics(Registrar& registry);

}  // namespace plugfit
