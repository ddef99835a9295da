// Learning-rate schedules for LearningRateScheduler, which plugins may add:
//
//   class Halving : public plugfit::LearningRateSchedule { ... };
//   registry.add_schedule<Halving>("Halving");    // {"schedule": {"class_name": "acme>Halving"}}
#pragma once

#include "export.hpp"

namespace plugfit {

class PLUGFIT_API LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule();
  // The rate for the 0-based epoch about to start, given the optimizer's current rate.
  virtual double learning_rate(int epoch, double current) = 0;
};

}  // namespace plugfit
