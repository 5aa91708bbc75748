/* envs/ internal declarations. */
#pragma once

#include "envs/envs.h"

int envs_layers(const struct spec *s, char ***ret, berth_error **err);
int envs_pull_layers(const struct spec *s, char ***ret, berth_error **err);
