/* envs/ internal declarations. */
#pragma once

#include "envs/envs.h"

/* The environment's folder under the state folder base (not created). */
char *envs_dir_path(const char *base, const struct spec *s);
int envs_layers(const struct spec *s, const char *state, bool keep_record, char ***ret, berth_error **err);
/* Fill the NULL entries of layers (one per spec layer, bottom first) with the
 * unpacked folders of the spec's archives: as the last pull recorded in
 * state/layers while that still holds, else by a pull, recorded when
 * keep_record (never for --ephemeral, which leaves nothing). */
int envs_pull_layers(const struct spec *s, const char *state, bool keep_record, char **layers, berth_error **err);
/* A merged copy of the layers for a root without overlay, every file with an
 * inode of its own (never the cache's). throwaway: built at dir/root for one
 * run; else kept as dir/copy-<key of the layers>, built once. */
int envs_copy_root(char *const *layers, size_t n, const char *dir, bool throwaway, char **ret, berth_error **err);
