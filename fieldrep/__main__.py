from fieldrep.app import main

raise SystemExit(main())
