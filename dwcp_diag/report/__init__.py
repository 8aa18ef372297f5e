"""Reports: papermill executes notebooks, nbconvert exports them to self-contained HTML."""
