// (being written)
#include "packet_view.h"
