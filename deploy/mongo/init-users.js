// One user per service, allowed to read and write its own database only (yidi_<service>), so a
// compromised service cannot read or change another's data. The image runs this once, on the first
// start with an empty volume; to add or rotate users later see deploy/SECURITY.md.
for (const service of ["filing", "settlement", "clearing", "prepayment", "collab", "supervision", "console"]) {
  const variable = `MONGO_PASSWORD_${service.toUpperCase()}`;
  const pwd = process.env[variable];
  if (!pwd) throw new Error(`${variable} is not set`);
  const database = `yidi_${service}`;
  db.getSiblingDB(database).createUser({user: service, pwd, roles: [{role: "readWrite", db: database}]});
  print(`created MongoDB user ${service} (readWrite on ${database})`);
}
