"""Pure functions and Arrow/pandas UDF bodies: plain Python on plain data, no Spark session inside."""
