raise RuntimeError("this plugin cannot start")
