"""Video understanding: shots, feature images, motion and colours, the recognizer, summaries."""
