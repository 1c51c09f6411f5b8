"""Model families (one file each), their sampling and constraint filters."""
