"""What a file must be to be stored as a data set, checked as training will read it."""
from config import settings
from maiascore.modeling import DatasetError, binary_target, parse_csv
from maiascore.modeling.training import MIN_ROWS_PER_CLASS


def check_csv(raw, target, positive=None):
    """Parses and checks an upload as training will; returns the dataset and its two classes, or
    raises ``DatasetError`` with the reason."""
    limit = settings().TRAINING_MAX_COLUMNS
    header = raw[:raw.find(b"\n")] if b"\n" in raw else raw
    if max(header.count(separator) for separator in (b",", b";", b"\t")) >= limit:
        # checked before parsing: a header of a million columns must not cost the web process seconds
        raise DatasetError(f"the header has more than {limit} columns; at most {limit} are allowed "
                           "(TRAINING_MAX_COLUMNS)")
    dataset = parse_csv(raw, target)
    if dataset.target is None:
        raise DatasetError("no target column: name the label column in the 'target' field (columns: "
                           f"{', '.join(dataset.columns)})")
    if len(dataset.columns) < 2:
        raise DatasetError("the file has no feature column besides the target")
    if len(dataset.columns) > limit:
        raise DatasetError(f"the file has {len(dataset.columns)} columns; at most {limit} are allowed "
                           "(TRAINING_MAX_COLUMNS)")
    classes = binary_target(dataset, dataset.target, positive)
    for label, name in ((0, classes.negative), (1, classes.positive)):
        count = int((classes.labels == label).sum())
        if count < MIN_ROWS_PER_CLASS:
            raise DatasetError(f"class '{name}' has only {count} rows; at least {MIN_ROWS_PER_CLASS} are "
                               "needed to train, validate and test")
    return dataset, classes
