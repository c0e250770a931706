raise ValueError("refused by the script")
