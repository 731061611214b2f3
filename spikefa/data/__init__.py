"""Datasets: MNIST (spikefa.data.mnist) and small synthetic sets that need no download."""
