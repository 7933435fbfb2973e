import sys

from multihost.harness import main

sys.exit(main())
