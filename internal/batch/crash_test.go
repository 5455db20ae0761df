package batch_test

const crashChildEnv = "DURASCRIBE_BATCH_CRASH_CHILD"

func crashChild() {}
