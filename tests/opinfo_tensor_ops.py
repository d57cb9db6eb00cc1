"""Op specs for the issue 11 area 'tensor_ops' (merged into ``opinfo.OP_SPECS``/``NN_SPECS``)."""

OP_SPECS = []
NN_SPECS = []
