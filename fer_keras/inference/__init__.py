"""Stage 5, use: the recognizer on photos, folders, video and the webcam (``predict``, ``video``),
the TFLite export (``tflite``) and the web app (``serve``)."""
