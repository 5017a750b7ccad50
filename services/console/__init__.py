"""The agencies' console 经办机构工作台: a deployable web service for agency staff (000 第八十–八十三条,
第六十二–六十四条, 第二十八条, 附件13–16). It keeps only its users and sessions (its own database); it
reads through the services' signed query APIs and acts by publishing signed commands, both as the
logged-in user's agency."""
