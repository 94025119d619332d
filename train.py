"""Train the classifier, U-Net and detector on MNIST: `python train.py --help`."""

import sys

from mnist_demo.training import main

if __name__ == "__main__":
    sys.exit(main())
