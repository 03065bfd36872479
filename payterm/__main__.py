from payterm.cli import main

raise SystemExit(main())
