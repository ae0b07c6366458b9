package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flaskhq/flask/client"
)

const keysUsage = `Usage: flaskctl keys <subcommand> [flags]

Manage API keys through the API; this needs an admin key in $FLASK_API_KEY.

  create --tenant T --scopes S1,S2 [--name N]   make a key; its secret is printed once
  list [--tenant T]                             list keys, revoked ones included
  revoke <key id>                               revoke a key

Scopes: jobs:submit, jobs:read, jobs:manage, stats:read (aggregate queue
counts for autoscalers, nothing else), admin (admin grants every scope over
every tenant). Every subcommand takes --api URL (default $FLASK_API_URL)
and --json.
`

// runKeys runs "flaskctl keys ...".
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: no subcommand given (create, list or revoke)")
	}
	cmd := &jobsCmd{stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "create":
		return cmd.createKey(ctx, args[1:])
	case "list":
		return cmd.listKeys(ctx, args[1:])
	case "revoke":
		return cmd.revokeKey(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("keys: unknown subcommand %q (want create, list or revoke)", args[0])
}

func (cmd *jobsCmd) createKey(ctx context.Context, args []string) error {
	fs, common := cmd.flags("keys create", "", "make an API key; its secret is printed once")
	name := fs.String("name", "", "a label for people, such as the service that uses the key (default: the tenant)")
	tenant := fs.String("tenant", "", "the tenant whose jobs the key submits and sees (required)")
	scopes := fs.String("scopes", "", "comma-separated scopes: jobs:submit, jobs:read, jobs:manage, stats:read, admin (required)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *tenant == "" || *scopes == "" {
		return errors.New("keys create: --tenant and --scopes are required")
	}
	if *name == "" {
		*name = *tenant
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	k, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: *name, Tenant: *tenant, Scopes: list})
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, k)
	}
	fmt.Fprintf(cmd.stdout, "%s\n", k.Secret)
	fmt.Fprintf(cmd.stderr, "created key %s for tenant %s with scopes %s; the line above is its secret, shown only now\n",
		k.ID, k.Tenant, strings.Join(k.Scopes, ","))
	return nil
}

func (cmd *jobsCmd) listKeys(ctx context.Context, args []string) error {
	fs, common := cmd.flags("keys list", "", "list API keys, revoked ones included")
	tenant := fs.String("tenant", "", "only this tenant's keys")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	keys, err := c.ListKeys(ctx, *tenant)
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, map[string]any{"keys": keys})
	}
	tw := newTable(cmd.stdout)
	fmt.Fprintln(tw, "ID\tNAME\tTENANT\tSCOPES\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, oneLine(k.Name, 40), k.Tenant, strings.Join(k.Scopes, ","),
			formatTime(k.CreatedAt), formatTimePtr(k.LastUsedAt), formatTimePtr(k.RevokedAt))
	}
	return tw.Flush()
}

func (cmd *jobsCmd) revokeKey(ctx context.Context, args []string) error {
	fs, common := cmd.flags("keys revoke", "<key id>", "revoke an API key")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	k, err := c.RevokeKey(ctx, pos[0])
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, k)
	}
	fmt.Fprintf(cmd.stdout, "key %s (%s, tenant %s) is revoked\n", k.ID, k.Name, k.Tenant)
	return nil
}
