import marshmallow as ma


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    mongo = ma.fields.String()
    redis = ma.fields.String()
