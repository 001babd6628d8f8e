"""The GUI thread's side of the worker, one lane per kind of work.

`EngineClient` (app/client.py) owns the worker thread and one of each lane:
`ModelLane` loads and opens models; `MapsLane` explains the shown image;
`TrustLane` checks the shown maps; `SurveyLane` reads a folder for the Images list.
The job lanes share the worker but not their jobs: each knows the ids it sent
(see `base.py`), so none of them has to be told whose an answer is.
"""
