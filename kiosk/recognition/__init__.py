"""Who is in front of the camera: the recognition thread and its parts (finder, tracker,
speculative embedding, badge scan) and the decision it reaches."""
