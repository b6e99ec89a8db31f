"""Pure analysis of program text: filters, normalisation, MinHash, decontamination, ids, value comparison."""
