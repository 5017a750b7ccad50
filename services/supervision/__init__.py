"""Fund supervision 基金监管: run indicators and the smart-audit rule base over completed settlements."""
