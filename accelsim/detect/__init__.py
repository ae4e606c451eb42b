"""The detector and its accuracy: datasets, proposals, the CNN scoring stage, functional execution in
the hardware's number formats, and the Caltech log-average miss rate."""
