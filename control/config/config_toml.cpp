// (being written)
#include "config.h"
