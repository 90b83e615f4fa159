from wnbias.cli import main

raise SystemExit(main())
